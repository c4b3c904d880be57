-- Branch dimension; branch_sk is a surrogate key (md5 of the natural key, stable across loads).
-- materialization: overwrite
SELECT md5('branch|' || branch_id) AS branch_sk, branch_id, code, name, city
FROM bronze.branches
