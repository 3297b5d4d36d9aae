package dev.fleet.gateway.loras;

import com.fasterxml.jackson.annotation.JsonInclude;
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

/** {@code GET /v1/loras}: the LoRAs a job may name in {@code loras}, and the limits on them. */
@Path("/v1/loras")
@Produces(MediaType.APPLICATION_JSON)
@Authenticated
@Tag(name = "loras", description = "The LoRA adapters jobs may apply")
public class LorasResource {
  private final LoraLibrary library;
  private final LorasConfig config;

  public LorasResource(LoraLibrary library, LorasConfig config) {
    this.library = library;
    this.config = config;
  }

  /** The LoRAs, and how many a job may use at which strengths. */
  @Schema(name = "LoraList")
  public record LoraList(
      @Schema(description = "LoRAs one job may apply together", example = "4") int maxPerJob,
      @Schema(description = "strengths lie in [-maxStrength, maxStrength]", example = "2")
          double maxStrength,
      @Schema(description = "the strength a LoRA gets when a job names none", example = "1")
          double defaultStrength,
      List<LoraInfo> loras) {}

  /** One LoRA file. */
  @Schema(name = "LoraInfo")
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record LoraInfo(
      @Schema(description = "what a job names in loras[].name", example = "watercolor") String name,
      @Schema(description = "the file's size", example = "19174208") long bytes,
      @Schema(
              description =
                  "the key layout: kohya, diffusers, xlabs, bfl, or unsupported (see problem)",
              example = "kohya")
          String format,
      @Schema(description = "the largest rank of its modules", example = "16") int rank,
      @Schema(description = "whether jobs may use it") boolean usable,
      @Schema(description = "why it cannot be used, when it cannot") String problem) {}

  @GET
  @Operation(
      operationId = "listLoras",
      summary = "The LoRA adapters jobs may apply, with their format and rank")
  @APIResponse(
      responseCode = "200",
      description = "The LoRAs of the fleet's LoRA directory, by name",
      content = @Content(schema = @Schema(implementation = LoraList.class)))
  public LoraList list() {
    return new LoraList(
        config.maxPerJob(),
        config.maxStrength(),
        1.0,
        library.list().stream()
            .map(
                i ->
                    new LoraInfo(
                        i.name(), i.bytes(), i.format(), i.rank(), i.usable(), i.problem()))
            .toList());
  }
}
