package dev.fleet.gateway.webhooks;

import dev.fleet.gateway.problem.ProblemException;
import dev.fleet.model.FieldError;
import jakarta.enterprise.context.ApplicationScoped;
import java.net.URI;
import java.util.List;
import java.util.Optional;

/** The gateway's webhook settings: the address policy and, when a secret is set, the signer. */
@ApplicationScoped
public class Webhooks {
  private final WebhookPolicy policy;
  private final Optional<WebhookSigner> signer;

  public Webhooks(WebhooksConfig config) {
    this.policy = new WebhookPolicy(config.allow().orElse(List.of()));
    this.signer = config.secret().filter(s -> !s.isBlank()).map(WebhookSigner::new);
  }

  public WebhookPolicy policy() {
    return policy;
  }

  /** Empty when no secret is configured: then no job may name a webhook. */
  public Optional<WebhookSigner> signer() {
    return signer;
  }

  /**
   * A job's {@code webhook} field as a URI the relay may call.
   *
   * @throws ProblemException 422 naming the field: webhooks are not configured, or the URL is
   *     refused (not https, not public, not resolvable ...)
   */
  public URI check(String url) {
    if (signer.isEmpty()) {
      throw refused("is not available: this gateway has no fleet.webhooks.secret");
    }
    try {
      return policy.check(url);
    } catch (WebhookPolicy.RefusedException e) {
      throw refused(e.getMessage());
    }
  }

  private static ProblemException refused(String why) {
    return ProblemException.invalidFields(List.of(new FieldError("webhook", why)));
  }
}
