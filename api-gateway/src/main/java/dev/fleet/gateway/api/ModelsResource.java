package dev.fleet.gateway.api;

import dev.fleet.gateway.models.Model;
import dev.fleet.gateway.models.ModelRegistry;
import dev.fleet.model.GenerationSpec;
import io.quarkus.security.Authenticated;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import java.util.List;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/**
 * {@code GET /v1/models}: the models jobs may name, with the defaults a request gets and the ranges
 * it may ask for, so that a client (the console) can offer what the gateway accepts.
 */
@Path("/v1/models")
@Produces(MediaType.APPLICATION_JSON)
@Authenticated
@Tag(name = "models", description = "The models jobs may name")
public class ModelsResource {
  private final ModelRegistry registry;

  public ModelsResource(ModelRegistry registry) {
    this.registry = registry;
  }

  /**
   * The registry: the default model's name, the rules every job keeps ({@link GenerationSpec}'s),
   * and each model's defaults and narrower ranges.
   */
  public record ModelList(String defaultModel, Limits limits, List<ModelInfo> models) {}

  /** The rules of every job, whatever its model. */
  public record Limits(
      int sideMultiple,
      int maxPromptChars,
      double minGuidance,
      double maxGuidance,
      long minSeed,
      long maxSeed) {}

  /**
   * One model: its family, what a request gets by default and what it may ask for.
   *
   * @param classifierFreeGuidance whether jobs may give {@code negativePrompt} and {@code
   *     cfgTruncation} (a model with an unconditional pass, as NewBie-image)
   */
  public record ModelInfo(
      String name,
      String family,
      Defaults defaults,
      int minSide,
      int maxSide,
      int minSteps,
      int maxSteps,
      boolean classifierFreeGuidance) {}

  public record Defaults(int steps, int width, int height, double guidance) {}

  @GET
  @Operation(
      operationId = "listModels",
      summary = "The models jobs may name, with their defaults and accepted ranges")
  @APIResponse(
      responseCode = "200",
      description = "The registry",
      content = @Content(schema = @Schema(implementation = ModelList.class)))
  public ModelList list() {
    List<ModelInfo> models =
        registry.names().stream().map(n -> info(registry.find(n).orElseThrow())).toList();
    return new ModelList(
        registry.defaultModel().name(),
        new Limits(
            GenerationSpec.SIDE_MULTIPLE,
            GenerationSpec.MAX_PROMPT_CHARS,
            0,
            GenerationSpec.MAX_GUIDANCE,
            0,
            GenerationSpec.MAX_SEED),
        models);
  }

  private static ModelInfo info(Model m) {
    return new ModelInfo(
        m.name(),
        m.dims().name(),
        new Defaults(m.defaultSteps(), m.defaultWidth(), m.defaultHeight(), m.defaultGuidance()),
        Math.max(m.minSide(), GenerationSpec.MIN_SIDE),
        Math.min(m.maxSide(), GenerationSpec.MAX_SIDE),
        1,
        Math.min(m.maxSteps(), GenerationSpec.MAX_STEPS),
        m.classifierFreeGuidance());
  }
}
