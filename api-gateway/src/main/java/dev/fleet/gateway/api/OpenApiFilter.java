package dev.fleet.gateway.api;

import dev.fleet.gateway.problem.Problem;
import org.eclipse.microprofile.openapi.OASFactory;
import org.eclipse.microprofile.openapi.OASFilter;
import org.eclipse.microprofile.openapi.models.OpenAPI;
import org.eclipse.microprofile.openapi.models.Operation;
import org.eclipse.microprofile.openapi.models.media.Content;
import org.eclipse.microprofile.openapi.models.media.MediaType;
import org.eclipse.microprofile.openapi.models.media.Schema;
import org.eclipse.microprofile.openapi.models.responses.APIResponse;

/**
 * Completes the OpenAPI document where configuration and annotations cannot, in one place:
 *
 * <ul>
 *   <li>the licence's SPDX identifier. The repository declares no open-source licence, so it is an
 *       SPDX {@code LicenseRef-} for a proprietary one rather than an invented open licence;
 *   <li>the 401 problem every {@code /v1} operation answers without a valid API key, so that no
 *       resource method has to repeat it.
 * </ul>
 */
public class OpenApiFilter implements OASFilter {
  private static final String API_PREFIX = "/v1/";

  @Override
  public void filterOpenAPI(OpenAPI openAPI) {
    if (openAPI.getInfo() != null && openAPI.getInfo().getLicense() != null) {
      openAPI.getInfo().getLicense().setIdentifier("LicenseRef-Proprietary");
    }
    if (openAPI.getPaths() == null || openAPI.getPaths().getPathItems() == null) {
      return;
    }
    openAPI
        .getPaths()
        .getPathItems()
        .forEach(
            (path, item) -> {
              if (path.startsWith(API_PREFIX)) {
                item.getOperations().values().forEach(OpenApiFilter::addUnauthorized);
              }
            });
  }

  private static void addUnauthorized(Operation operation) {
    if (operation.getResponses() == null || operation.getResponses().hasAPIResponse("401")) {
      return;
    }
    Schema problem =
        OASFactory.createSchema().ref("#/components/schemas/" + Problem.class.getSimpleName());
    MediaType media = OASFactory.createMediaType().schema(problem);
    Content content = OASFactory.createContent().addMediaType(Problem.MEDIA_TYPE, media);
    APIResponse unauthorized =
        OASFactory.createAPIResponse()
            .description("No API key, or one that is unknown or revoked")
            .content(content);
    operation.getResponses().addAPIResponse("401", unauthorized);
  }
}
