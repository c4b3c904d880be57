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
        default:
          throw new IllegalArgumentException("unknown scenario " + scenario);
      }
    }
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
