package dev.fleet.engine.pipeline;

import dev.fleet.engine.flux.FluxTransformer;
import dev.fleet.engine.flux.StreamedBlocks;
import dev.fleet.engine.memory.DeviceLedger;
import dev.fleet.engine.memory.ExecutionPlan;
import dev.fleet.engine.model.ModelDirectory;
import dev.fleet.engine.vae.AutoEncoder;
import dev.fleet.engine.weights.ComputeTarget;

/**
 * What one execution plan keeps loaded on the device: the DiT (its embedders and head, and its
 * block source), the text stage, and the autoencoder when the plan keeps it resident, each with its
 * booking. Closing it frees all of it.
 *
 * @param vae null when the plan stages the autoencoder for each decode
 * @param vaeBooking null when {@code vae} is
 */
record LoadedPlan(
    ExecutionPlan plan,
    FluxTransformer dit,
    StreamedBlocks blocks,
    DeviceLedger.Booking ditBooking,
    TextStage text,
    AutoEncoder vae,
    DeviceLedger.Booking vaeBooking)
    implements PlanStages.Loaded {
  @Override
  public void cancelPrefetch() {
    blocks.cancelPrefetch();
  }

  @Override
  public void close() {
    try {
      text.close();
    } finally {
      dit.close(); // closes the block source, which releases the resident blocks' bookings
      ditBooking.close();
      if (vae != null) { // null when the autoencoder is staged
        vae.close();
        vaeBooking.close();
      }
    }
  }

  /** The autoencoder on the device, its parameters on a capped manager. */
  static AutoEncoder loadAutoEncoder(ModelDirectory model, ComputeTarget target) {
    AutoEncoder vae = model.loadVae(target);
    vae.manager().cap();
    return vae;
  }
}
