-- Customers with their company; is_b2b when they belong to one.
-- materialization: overwrite
SELECT c.customer_id, c.name, c.email, c.country, c.company_id, co.name AS company_name, c.company_id IS NOT NULL AS is_b2b
FROM bronze.customers AS c
LEFT JOIN bronze.companies AS co USING (company_id)
