package dev.fleet.model.store;

/** A tenant already has as many unfinished (queued or running) jobs as it may. */
public class TenantQuotaExceededException extends RuntimeException {
  private final long active;
  private final int limit;

  public TenantQuotaExceededException(String tenant, long active, int limit) {
    super(
        "tenant "
            + tenant
            + " has "
            + active
            + " jobs queued or running, at most "
            + limit
            + " allowed",
        null,
        false,
        false);
    this.active = active;
    this.limit = limit;
  }

  public long active() {
    return active;
  }

  public int limit() {
    return limit;
  }
}
