package dev.fleet.engine.pipeline;

import dev.fleet.engine.Fixtures;
import dev.fleet.engine.model.ModelDirectory;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.model.GenerationSpec;

/**
 * The fixture case through the plain (all-resident) pipeline on CPU: what every planned variant is
 * compared with.
 */
record ReferenceRun(
    ModelDirectory model, GenerationSpec spec, PlanRecorder trace, GeneratedImage image) {

  static ReferenceRun plain() {
    ModelDirectory model = ModelDirectory.resolve(Fixtures.MODEL, null);
    GenerationSpec spec = PlanRecorder.fixtureCase();
    PlanRecorder trace = new PlanRecorder();
    try (FluxPipeline p = FluxPipeline.load(model, ComputeTarget.cpu())) {
      return new ReferenceRun(model, spec, trace, p.generate(spec, trace));
    }
  }
}
