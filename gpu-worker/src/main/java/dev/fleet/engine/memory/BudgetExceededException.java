package dev.fleet.engine.memory;

/**
 * A booking that would take the device ledger over its budget. It carries the numbers, so that a
 * caller can fall back to a more frugal plan and say why.
 */
public class BudgetExceededException extends RuntimeException {
  private final String what;
  private final long requestedBytes;
  private final long inUseBytes;
  private final long budgetBytes;

  public BudgetExceededException(
      String what, long requestedBytes, long inUseBytes, long budgetBytes) {
    super(
        "device budget exceeded: "
            + what
            + " needs "
            + DeviceLedger.format(requestedBytes)
            + " but "
            + DeviceLedger.format(inUseBytes)
            + " of "
            + DeviceLedger.format(budgetBytes)
            + " are booked ("
            + DeviceLedger.format(Math.max(0, budgetBytes - inUseBytes))
            + " free)");
    this.what = what;
    this.requestedBytes = requestedBytes;
    this.inUseBytes = inUseBytes;
    this.budgetBytes = budgetBytes;
  }

  /** What the refused booking was for (e.g. {@code dit.double_blocks.7 streamed}). */
  public String what() {
    return what;
  }

  public long requestedBytes() {
    return requestedBytes;
  }

  /** Bytes booked when the booking was refused. */
  public long inUseBytes() {
    return inUseBytes;
  }

  public long budgetBytes() {
    return budgetBytes;
  }
}
