package dev.fleet.model.store;

import java.sql.SQLException;

/** The database failed under a {@link JobStore} call; the cause says how. */
public class JobStoreException extends RuntimeException {
  public JobStoreException(String operation, SQLException cause) {
    super(operation + " failed: " + cause.getMessage(), cause);
  }
}
