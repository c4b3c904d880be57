import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

/**
 * pgjdbc (the PostgreSQL JDBC driver of DBeaver, Metabase and most Java tools) as a real client
 * of ingot's PostgreSQL protocol server, for test/postgres-wire.test.ts. Compiled with javac.
 *
 * Usage: java -cp pgjdbc.jar:. PgClient <jdbc-url> <password> <scenario> [sql] [params...]
 *   query <sql>                 rows as CSV with a header (getString of each column)
 *   prepared <sql> <p1> <p2>... a PreparedStatement, parameters set with setString/setInt by their look, run 6 times
 *                               (pgjdbc switches to a named server-side statement and binary transfer after 5)
 *   fetch <sql> <fetchSize>     autocommit off, rows fetched in pages of fetchSize: row count, pages seen, sum of column 1
 *   meta                        DatabaseMetaData: getSchemas, getTables("silver"), getColumns(silver.flights), getPrimaryKeys
 *   connect                     connects, or prints the SQLSTATE of the failure
 *   sync <schema> <table>       what Metabase's sync asks (see sync()): DatabaseMetaData calls and the catalog
 *                               queries Metabase's PostgreSQL driver issues, one line each
 */
public class PgClient {
  public static void main(String[] args) throws Exception {
    String url = args[0];
    Properties props = new Properties();
    props.setProperty("user", "analyst");
    props.setProperty("password", args[1]);
    String scenario = args[2];
    if (scenario.equals("connect")) {
      try (Connection c = DriverManager.getConnection(url, props)) {
        System.out.println("ok " + c.getMetaData().getDatabaseProductVersion());
      } catch (SQLException e) {
        System.out.println("sqlstate " + e.getSQLState());
      }
      return;
    }
    try (Connection c = DriverManager.getConnection(url, props)) {
      switch (scenario) {
        case "query": {
          try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(args[3])) {
            printCsv(rs);
          }
          break;
        }
        case "prepared": {
          try (PreparedStatement ps = c.prepareStatement(args[3])) {
            for (int round = 0; round < 6; round++) {
              for (int i = 4; i < args.length; i++) {
                if (args[i].matches("-?\\d+")) ps.setInt(i - 3, Integer.parseInt(args[i]));
                else ps.setString(i - 3, args[i]);
              }
              try (ResultSet rs = ps.executeQuery()) {
                if (round == 5) printCsv(rs);
                else while (rs.next()) { /* read */ }
              }
            }
          }
          break;
        }
        case "fetch": {
          c.setAutoCommit(false);
          try (Statement s = c.createStatement()) {
            s.setFetchSize(Integer.parseInt(args[4]));
            try (ResultSet rs = s.executeQuery(args[3])) {
              long rows = 0, sum = 0;
              while (rs.next()) {
                rows++;
                sum += rs.getLong(1);
              }
              System.out.println(rows + "," + sum);
            }
          }
          c.commit();
          break;
        }
        case "meta": {
          DatabaseMetaData md = c.getMetaData();
          List<String> schemas = new ArrayList<>();
          try (ResultSet rs = md.getSchemas()) {
            while (rs.next()) schemas.add(rs.getString("TABLE_SCHEM"));
          }
          System.out.println("schemas " + String.join(" ", schemas));
          List<String> tables = new ArrayList<>();
          try (ResultSet rs = md.getTables(null, "silver", "%", null)) {
            while (rs.next()) tables.add(rs.getString("TABLE_NAME") + ":" + rs.getString("TABLE_TYPE"));
          }
          System.out.println("tables " + String.join(" ", tables));
          List<String> columns = new ArrayList<>();
          try (ResultSet rs = md.getColumns(null, "silver", "flights", "%")) {
            while (rs.next()) columns.add(rs.getString("COLUMN_NAME") + ":" + rs.getString("TYPE_NAME") + ":" + rs.getInt("DATA_TYPE"));
          }
          System.out.println("columns " + String.join(" ", columns));
          List<String> keys = new ArrayList<>();
          try (ResultSet rs = md.getPrimaryKeys(null, "silver", "flights")) {
            while (rs.next()) keys.add(rs.getString("COLUMN_NAME"));
          }
          System.out.println("primary keys " + keys.size());
          break;
        }
        case "sync":
          sync(c, args[3], args[4]);
          break;
        default:
          throw new IllegalArgumentException("unknown scenario " + scenario);
      }
    }
  }

  /**
   * Metabase's sync of a PostgreSQL database, as its driver issues it: the session's time zone
   * (SHOW TIMEZONE), the database, pgjdbc's DatabaseMetaData (getSchemas, getTables with the
   * table types Metabase lists, getColumns, getPrimaryKeys, getImportedKeys, getIndexInfo), and
   * the catalog queries of its driver for tables (with descriptions and row estimates),
   * privileges, fields (with comments and primary keys), foreign keys, indexes and enum types.
   * The SQL is written here in the shape those queries have; prepared statements as Metabase runs them.
   */
  private static void sync(Connection c, String schema, String table) throws SQLException {
    System.out.println("timezone " + one(c, "show timezone;"));
    System.out.println("database " + one(c, "SELECT current_database()"));
    DatabaseMetaData md = c.getMetaData();
    List<String> out = new ArrayList<>();
    try (ResultSet rs = md.getSchemas()) {
      while (rs.next()) out.add(rs.getString("TABLE_SCHEM"));
    }
    System.out.println("getSchemas " + String.join(" ", out));
    out.clear();
    try (ResultSet rs = md.getTables(null, null, "%", new String[] {"TABLE", "PARTITIONED TABLE", "VIEW", "FOREIGN TABLE", "MATERIALIZED VIEW"})) {
      while (rs.next()) out.add(rs.getString("TABLE_SCHEM") + "." + rs.getString("TABLE_NAME") + ":" + rs.getString("TABLE_TYPE") + ":" + rs.getString("REMARKS"));
    }
    System.out.println("getTables " + String.join(" ", out));
    out.clear();
    try (ResultSet rs = md.getColumns(null, schema, table, "%")) {
      while (rs.next()) {
        out.add(rs.getString("COLUMN_NAME") + ":" + rs.getString("TYPE_NAME") + ":" + rs.getInt("DATA_TYPE") + ":" + rs.getInt("NULLABLE") + ":" + rs.getString("IS_NULLABLE") + ":" + rs.getString("REMARKS"));
      }
    }
    System.out.println("getColumns " + String.join("|", out));
    System.out.println("getPrimaryKeys " + count(md.getPrimaryKeys(null, schema, table)));
    System.out.println("getImportedKeys " + count(md.getImportedKeys(null, schema, table)));
    System.out.println("getIndexInfo " + count(md.getIndexInfo(null, schema, table, false, true)));

    // describe-database: tables with their descriptions and row estimates
    System.out.println("tables " + rows(c,
        "SELECT n.nspname AS schema, c.relname AS name, CASE c.relkind WHEN 'r' THEN 'TABLE' WHEN 'p' THEN 'PARTITIONED TABLE' WHEN 'v' THEN 'VIEW' "
        + "WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE NULL END AS type, d.description AS description, stat.n_live_tup AS estimated_row_count "
        + "FROM pg_catalog.pg_class AS c INNER JOIN pg_catalog.pg_namespace AS n ON c.relnamespace = n.oid "
        + "LEFT JOIN pg_catalog.pg_description AS d ON (c.oid = d.objoid) AND (d.objsubid = 0) AND (d.classoid = 'pg_class'::regclass) "
        + "LEFT JOIN pg_stat_user_tables AS stat ON (n.nspname = stat.schemaname) AND (c.relname = stat.relname) "
        + "WHERE (c.relnamespace = n.oid) AND (n.nspname !~ '^pg_') AND (n.nspname <> 'information_schema') AND c.relkind in ('r', 'p', 'v', 'f', 'm') "
        + "AND n.nspname IN (?) ORDER BY type ASC, schema ASC, name ASC", schema));
    // current-user-table-privileges
    System.out.println("privileges " + rows(c,
        "with table_privileges as ( select NULL as role, t.schemaname as schema, t.objectname as table, "
        + "pg_catalog.has_any_column_privilege(current_user, '\"' || replace(t.schemaname, '\"', '\"\"') || '\"' || '.' || '\"' || replace(t.objectname, '\"', '\"\"') || '\"', 'update') as update, "
        + "pg_catalog.has_any_column_privilege(current_user, '\"' || replace(t.schemaname, '\"', '\"\"') || '\"' || '.' || '\"' || replace(t.objectname, '\"', '\"\"') || '\"', 'select') as select, "
        + "pg_catalog.has_table_privilege(current_user, '\"' || replace(t.schemaname, '\"', '\"\"') || '\"' || '.' || '\"' || replace(t.objectname, '\"', '\"\"') || '\"', 'delete') as delete "
        + "from ( select schemaname, tablename as objectname from pg_catalog.pg_tables union select schemaname, viewname as objectname from pg_catalog.pg_views "
        + "union select schemaname, matviewname as objectname from pg_catalog.pg_matviews ) t "
        + "where t.schemaname !~ '^pg_' and t.schemaname <> 'information_schema' and pg_catalog.has_schema_privilege(current_user, t.schemaname, 'usage') "
        + "and t.schemaname = ? ) select t.* from table_privileges t order by t.table", schema));
    // describe-fields: columns with their comments, required-ness and primary keys
    System.out.println("fields " + rows(c,
        "SELECT c.column_name AS name, CASE WHEN c.udt_schema IN ('public', 'pg_catalog') THEN FORMAT('%s', c.udt_name) ELSE FORMAT('\"%s\".\"%s\"', c.udt_schema, c.udt_name) END AS \"database-type\", "
        + "c.ordinal_position - 1 AS \"database-position\", c.table_schema AS \"table-schema\", c.table_name AS \"table-name\", pk.column_name IS NOT NULL AS \"pk?\", "
        + "COL_DESCRIPTION(CAST(CAST(FORMAT('%I.%I', CAST(c.table_schema AS TEXT), CAST(c.table_name AS TEXT)) AS REGCLASS) AS OID), c.ordinal_position) AS \"field-comment\", "
        + "((column_default IS NULL) OR (LOWER(column_default) = 'null')) AND (is_nullable = 'NO') AND NOT (((column_default IS NOT NULL) AND (column_default LIKE '%nextval(%')) OR (is_identity <> 'NO')) AS \"database-required\" "
        + "FROM information_schema.columns AS c LEFT JOIN (SELECT tc.table_schema, tc.table_name, kc.column_name FROM information_schema.table_constraints AS tc "
        + "INNER JOIN information_schema.key_column_usage AS kc ON (tc.constraint_name = kc.constraint_name) AND (tc.table_schema = kc.table_schema) AND (tc.table_name = kc.table_name) "
        + "WHERE tc.constraint_type = 'PRIMARY KEY') AS pk ON (c.table_schema = pk.table_schema) AND (c.table_name = pk.table_name) AND (c.column_name = pk.column_name) "
        + "WHERE c.table_schema !~ '^information_schema|catalog_history|pg_' AND (c.table_schema IN (?)) AND (c.table_name IN (?)) "
        + "ORDER BY \"table-schema\" ASC, \"table-name\" ASC, \"database-position\" ASC", schema, table));
    // describe-fks
    System.out.println("fks " + rows(c,
        "SELECT fk_ns.nspname AS \"fk-table-schema\", fk_table.relname AS \"fk-table-name\", fk_column.attname AS \"fk-column-name\", pk_ns.nspname AS \"pk-table-schema\", "
        + "pk_table.relname AS \"pk-table-name\", pk_column.attname AS \"pk-column-name\" FROM pg_constraint AS c "
        + "INNER JOIN pg_class AS fk_table ON c.conrelid = fk_table.oid INNER JOIN pg_namespace AS fk_ns ON c.connamespace = fk_ns.oid "
        + "INNER JOIN pg_attribute AS fk_column ON c.conrelid = fk_column.attrelid INNER JOIN pg_class AS pk_table ON c.confrelid = pk_table.oid "
        + "INNER JOIN pg_namespace AS pk_ns ON pk_table.relnamespace = pk_ns.oid INNER JOIN pg_attribute AS pk_column ON c.confrelid = pk_column.attrelid "
        + "WHERE (fk_ns.nspname !~ '^information_schema|catalog_history|pg_') AND (c.contype = 'f'::char) AND (fk_column.attnum = ANY(c.conkey)) "
        + "AND (pk_column.attnum = ANY(c.confkey)) AND (fk_table.relname IN (?)) AND (fk_ns.nspname IN (?)) ORDER BY \"fk-table-schema\" ASC, \"fk-table-name\" ASC", table, schema));
    // describe-indexes
    System.out.println("indexes " + rows(c,
        "SELECT tmp.\"table-schema\", tmp.\"table-name\", TRIM(BOTH '\"' FROM PG_CATALOG.PG_GET_INDEXDEF(tmp.ci_oid, tmp.pos, FALSE)) AS \"field-name\" "
        + "FROM (SELECT n.nspname AS \"table-schema\", ct.relname AS \"table-name\", ci.oid AS ci_oid, (information_schema._pg_expandarray(i.indkey)).n AS pos "
        + "FROM pg_catalog.pg_class AS ct INNER JOIN pg_catalog.pg_namespace AS n ON ct.relnamespace = n.oid INNER JOIN pg_catalog.pg_index AS i ON ct.oid = i.indrelid "
        + "INNER JOIN pg_catalog.pg_class AS ci ON ci.oid = i.indexrelid WHERE (PG_CATALOG.PG_GET_EXPR(i.indpred, i.indrelid) IS NULL) "
        + "AND n.nspname !~ '^information_schema|catalog_history|pg_' AND (n.nspname IN (?)) AND (ct.relname IN (?))) AS tmp WHERE tmp.pos = 1", schema, table));
    // enum types
    System.out.println("enums " + rows(c, "SELECT nspname, typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.oid IN (SELECT DISTINCT enumtypid FROM pg_enum e)"));
  }

  /** The first column of the first row of `sql` (a prepared statement). */
  private static String one(Connection c, String sql) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(sql); ResultSet rs = ps.executeQuery()) {
      return rs.next() ? rs.getString(1) : "(no row)";
    }
  }

  /** Rows of `sql` (a prepared statement with `params` as strings): columns joined by ",", rows by ";". */
  private static String rows(Connection c, String sql, String... params) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      for (int i = 0; i < params.length; i++) ps.setString(i + 1, params[i]);
      try (ResultSet rs = ps.executeQuery()) {
        int n = rs.getMetaData().getColumnCount();
        List<String> out = new ArrayList<>();
        while (rs.next()) {
          StringBuilder row = new StringBuilder();
          for (int i = 1; i <= n; i++) row.append(i > 1 ? "," : "").append(rs.getString(i));
          out.add(row.toString());
        }
        return out.isEmpty() ? "(none)" : String.join(";", out);
      }
    }
  }

  private static int count(ResultSet rs) throws SQLException {
    int n = 0;
    try (rs) {
      while (rs.next()) n++;
    }
    return n;
  }

  private static void printCsv(ResultSet rs) throws SQLException {
    ResultSetMetaData md = rs.getMetaData();
    int n = md.getColumnCount();
    StringBuilder out = new StringBuilder();
    for (int i = 1; i <= n; i++) out.append(i > 1 ? "," : "").append(md.getColumnLabel(i));
    out.append('\n');
    while (rs.next()) {
      for (int i = 1; i <= n; i++) {
        String v = rs.getString(i);
        out.append(i > 1 ? "," : "").append(v == null ? "" : v);
      }
      out.append('\n');
    }
    System.out.print(out);
  }
}
