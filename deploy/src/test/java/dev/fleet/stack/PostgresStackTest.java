package dev.fleet.stack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(FleetStackExtension.class)
class PostgresStackTest {

  @Test
  void fleetDatabaseAcceptsTablesAndRows(StackEndpoints stack) throws Exception {
    assertTrue(stack.jdbcUrl().endsWith("/fleet"), stack.jdbcUrl());
    try (Connection c = StackClients.jdbc(stack);
        Statement s = c.createStatement()) {
      s.execute("CREATE TABLE pg_test (id BIGINT PRIMARY KEY, prompt TEXT NOT NULL)");
      try (PreparedStatement insert = c.prepareStatement("INSERT INTO pg_test VALUES (?, ?)")) {
        insert.setLong(1, 42);
        insert.setString(2, "a red fox");
        assertEquals(1, insert.executeUpdate());
      }
      try (ResultSet rs = s.executeQuery("SELECT id, prompt, current_user FROM pg_test")) {
        assertTrue(rs.next());
        assertEquals(42, rs.getLong(1));
        assertEquals("a red fox", rs.getString(2));
        assertEquals("fleet", rs.getString(3));
        assertFalse(rs.next());
      }
    }
  }
}
