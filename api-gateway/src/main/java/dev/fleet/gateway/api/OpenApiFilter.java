package dev.fleet.gateway.api;

import org.eclipse.microprofile.openapi.OASFilter;
import org.eclipse.microprofile.openapi.models.OpenAPI;

/**
 * Completes the OpenAPI document where configuration cannot: the licence's SPDX identifier. The
 * repository declares no open-source licence, so it is an SPDX {@code LicenseRef-} for a
 * proprietary one rather than an invented open licence.
 */
public class OpenApiFilter implements OASFilter {
  @Override
  public void filterOpenAPI(OpenAPI openAPI) {
    if (openAPI.getInfo() != null && openAPI.getInfo().getLicense() != null) {
      openAPI.getInfo().getLicense().setIdentifier("LicenseRef-Proprietary");
    }
  }
}
