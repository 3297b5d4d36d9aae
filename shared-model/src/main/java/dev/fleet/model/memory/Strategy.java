package dev.fleet.model.memory;

/**
 * The rungs of the planner's ladder, fastest first: each gives up a little speed for memory. A
 * plan's strategy is its DiT residency and, while the DiT is whole on the device, its text
 * encoders'; decode tiling, attention chunking and a staged autoencoder are modifiers on any rung.
 */
public enum Strategy {
  /** Everything on the device: nothing moves per job or per step. */
  ALL_RESIDENT("all-resident"),
  /** Text encoders loaded per job (on a cache miss), released before the DiT runs. */
  TEXT_STAGED("text-staged"),
  /** T5 too big to stage: streamed layer by layer per job (on a cache miss). */
  T5_STREAMED("t5-streamed"),
  /** Some DiT blocks resident, the rest streamed every step. */
  DIT_PARTIAL("dit-partial"),
  /** Every DiT block streamed every step. */
  DIT_STREAMED("dit-streamed");

  private final String label;

  Strategy(String label) {
    this.label = label;
  }

  public String label() {
    return label;
  }

  /** The rung of a DiT residency with these text encoders. */
  public static Strategy of(DitResidency dit, Residency t5) {
    if (dit.fullyResident()) {
      return switch (t5) {
        case RESIDENT -> ALL_RESIDENT;
        case STAGED -> TEXT_STAGED;
        case STREAMED -> T5_STREAMED;
      };
    }
    return dit.fullyStreamed() ? DIT_STREAMED : DIT_PARTIAL;
  }
}
