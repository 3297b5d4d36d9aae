package dev.fleet.gateway.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleet.gateway.auth.Caller;
import dev.fleet.gateway.problem.Problem;
import dev.fleet.gateway.problem.ProblemException;
import dev.fleet.model.FieldError;
import dev.fleet.model.auth.ApiKey;
import dev.fleet.model.auth.ApiKeyStore;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.io.IOException;
import java.net.URI;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.parameters.RequestBody;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/**
 * {@code /v1/admin/keys}: API keys of every tenant, for admin keys only. A new key's text is in the
 * answer to its creation and nowhere else.
 */
@Path("/v1/admin/keys")
@Produces(MediaType.APPLICATION_JSON)
@RolesAllowed(Caller.ADMIN)
@Tag(name = "admin", description = "API keys and tenants (admin keys only)")
public class KeysResource {
  private final ApiKeyStore keys;
  private final ObjectMapper json;

  public KeysResource(ApiKeyStore keys, ObjectMapper json) {
    this.keys = keys;
    this.json = json;
  }

  /** A key as listed: never its secret. */
  public record KeyView(
      String id, String tenant, boolean admin, String name, Instant createdAt, Instant revokedAt) {
    static KeyView of(ApiKey k) {
      return new KeyView(k.id(), k.tenant(), k.admin(), k.name(), k.createdAt(), k.revokedAt());
    }
  }

  /** A new key, with its text: shown this once. */
  public record CreatedKey(
      String id, String tenant, boolean admin, String name, Instant createdAt, String key) {}

  /** The body of a creation. */
  public record CreateKeyRequest(
      @Schema(required = true, description = "1 to 63 letters, digits, '.', '_' or '-'")
          String tenant,
      @Schema(description = "a label for people") String name,
      @Schema(description = "whether the key may manage keys too (default false)") Boolean admin) {}

  /** The keys. */
  public record KeyList(List<KeyView> keys) {}

  @POST
  @Consumes(MediaType.APPLICATION_JSON)
  @Operation(operationId = "createKey", summary = "Make an API key for a tenant")
  @RequestBody(content = @Content(schema = @Schema(implementation = CreateKeyRequest.class)))
  @APIResponse(
      responseCode = "201",
      description = "The key, with its text (shown this once)",
      content = @Content(schema = @Schema(implementation = CreatedKey.class)))
  public Response create(String body) {
    CreateKeyRequest request = parse(body);
    List<FieldError> errors = new ArrayList<>();
    if (request.tenant() == null || !ApiKeyStore.TENANT.matcher(request.tenant()).matches()) {
      errors.add(
          new FieldError(
              "tenant", "must be 1 to 63 letters, digits, '.', '_' or '-', starting with either"));
    }
    if (request.name() != null
        && (request.name().length() > ApiKeyStore.MAX_NAME
            || request.name().chars().anyMatch(Character::isISOControl))) {
      errors.add(
          new FieldError(
              "name", "must have at most " + ApiKeyStore.MAX_NAME + " characters, none control"));
    }
    if (!errors.isEmpty()) {
      throw ProblemException.invalidFields(errors);
    }
    ApiKeyStore.Created created =
        keys.create(request.tenant(), Boolean.TRUE.equals(request.admin()), request.name());
    ApiKey k = created.key();
    return Response.created(URI.create("/v1/admin/keys/" + k.id()))
        .entity(
            new CreatedKey(
                k.id(), k.tenant(), k.admin(), k.name(), k.createdAt(), created.secret()))
        .build();
  }

  @GET
  @Operation(operationId = "listKeys", summary = "Every key (revoked ones too), or a tenant's")
  @APIResponse(
      responseCode = "200",
      description = "The keys, oldest first",
      content = @Content(schema = @Schema(implementation = KeyList.class)))
  public KeyList list(@QueryParam("tenant") String tenant) {
    if (tenant != null && !ApiKeyStore.TENANT.matcher(tenant).matches()) {
      throw ProblemException.malformed(
          "tenant: not a tenant name", List.of(new FieldError("tenant", "is not a tenant name")));
    }
    return new KeyList(keys.list(tenant).stream().map(KeyView::of).toList());
  }

  @GET
  @Path("{id}")
  @Operation(operationId = "getKey", summary = "One key")
  @APIResponse(
      responseCode = "200",
      description = "The key",
      content = @Content(schema = @Schema(implementation = KeyView.class)))
  @APIResponse(responseCode = "404", description = "No such key")
  public KeyView get(@PathParam("id") String id) {
    return KeyView.of(keys.find(id).orElseThrow(() -> keyNotFound(id)));
  }

  @DELETE
  @Path("{id}")
  @Operation(operationId = "revokeKey", summary = "Revoke a key: it authenticates nothing from now")
  @APIResponse(
      responseCode = "200",
      description = "Revoked (also when it already was)",
      content = @Content(schema = @Schema(implementation = KeyView.class)))
  @APIResponse(responseCode = "404", description = "No such key")
  public KeyView revoke(@PathParam("id") String id) {
    if (keys.revoke(id) == ApiKeyStore.RevokeOutcome.NOT_FOUND) {
      throw keyNotFound(id);
    }
    return KeyView.of(keys.find(id).orElseThrow(() -> keyNotFound(id)));
  }

  private CreateKeyRequest parse(String body) {
    JsonNode node;
    try {
      node = body == null || body.isBlank() ? null : json.readTree(body);
    } catch (IOException e) {
      throw ProblemException.malformed("the body is not valid JSON", null);
    }
    if (node == null || !node.isObject()) {
      throw ProblemException.malformed("the body must be a JSON object", null);
    }
    List<FieldError> errors = new ArrayList<>();
    for (Iterator<String> names = node.fieldNames(); names.hasNext(); ) {
      String name = names.next();
      if (!List.of("tenant", "name", "admin").contains(name)) {
        errors.add(new FieldError(name, "is not a field of this request"));
      }
    }
    String tenant = text(node, "tenant", errors);
    String name = text(node, "name", errors);
    Boolean admin = null;
    JsonNode a = node.get("admin");
    if (a != null && !a.isNull()) {
      if (a.isBoolean()) {
        admin = a.booleanValue();
      } else {
        errors.add(new FieldError("admin", "must be true or false"));
      }
    }
    if (!errors.isEmpty()) {
      throw ProblemException.malformed("fields of the wrong type or unknown", errors);
    }
    return new CreateKeyRequest(tenant, name, admin);
  }

  private static String text(JsonNode node, String field, List<FieldError> errors) {
    JsonNode v = node.get(field);
    if (v == null || v.isNull()) {
      return null;
    }
    if (!v.isTextual()) {
      errors.add(new FieldError(field, "must be a string"));
      return null;
    }
    return v.textValue();
  }

  static ProblemException keyNotFound(String id) {
    return new ProblemException(
        new Problem(
            Problem.KEY_NOT_FOUND,
            "Key not found",
            404,
            "no key has the id " + abbreviate(id),
            null));
  }

  private static String abbreviate(String s) {
    return s.length() <= 64 ? s : s.substring(0, 64) + "...";
  }
}
