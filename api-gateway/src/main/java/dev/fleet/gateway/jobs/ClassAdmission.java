package dev.fleet.gateway.jobs;

import dev.fleet.gateway.models.Model;
import dev.fleet.gateway.problem.Problem;
import dev.fleet.gateway.problem.ProblemException;
import dev.fleet.model.FieldError;
import dev.fleet.model.memory.AdapterLoad;
import dev.fleet.model.memory.ClassRoute;
import dev.fleet.model.memory.Hardware;
import dev.fleet.model.memory.Workload;
import java.util.List;

/**
 * The memory class a job goes to: the smallest whose budget the memory planner finds a plan for,
 * with the same planner the workers admit jobs with. A job no class holds is refused here, at
 * submission, with what it needs and what the largest class has.
 */
final class ClassAdmission {
  private ClassAdmission() {}

  /**
   * @throws ProblemException 422 {@code too-large-for-gpus} when no class holds the job
   */
  static ClassRoute.Fits route(Model model, int width, int height, int batch) {
    return route(model, width, height, batch, AdapterLoad.NONE);
  }

  /** As {@link #route(Model, int, int, int)}, with the job's LoRA adapters planned in. */
  static ClassRoute.Fits route(
      Model model, int width, int height, int batch, AdapterLoad adapters) {
    Workload workload =
        new Workload(width, height, batch, model.ditStorage()).withAdapters(adapters);
    // The hardware only ranks plans by speed; whether one fits depends on the budget alone.
    ClassRoute route = ClassRoute.of(model.dims(), workload, Hardware.DEFAULT);
    if (route instanceof ClassRoute.TooLarge tooLarge) {
      String why = tooLarge.explain(workload);
      throw new ProblemException(
          new Problem(
              Problem.TOO_LARGE_FOR_GPUS,
              "Too large for any GPU class",
              422,
              why,
              List.of(new FieldError("width", why), new FieldError("height", why))));
    }
    return (ClassRoute.Fits) route;
  }
}
