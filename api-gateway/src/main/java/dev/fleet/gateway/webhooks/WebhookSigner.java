package dev.fleet.gateway.webhooks;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The signature of a webhook event: {@code Fleet-Signature: t=<unix seconds>,v1=<hex>} where the
 * hex is HMAC-SHA256 under the operator's secret of {@code <t>.<body>} (the timestamp, a dot, the
 * raw body bytes). A receiver recomputes it, compares in constant time, and rejects a timestamp
 * more than {@link #REPLAY_WINDOW_SECONDS} away from its clock — the replay window — and an event
 * id ({@code Fleet-Event-Id}) it has seen (deliveries are at least once).
 */
public final class WebhookSigner {
  public static final String HEADER = "Fleet-Signature";
  public static final String EVENT_ID_HEADER = "Fleet-Event-Id";
  public static final long REPLAY_WINDOW_SECONDS = 300;

  private final SecretKeySpec key;

  public WebhookSigner(String secret) {
    if (secret.isBlank()) {
      throw new IllegalArgumentException("fleet.webhooks.secret is blank");
    }
    this.key = new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256");
  }

  /** The header value for {@code body} sent at {@code epochSeconds}. */
  public String sign(long epochSeconds, String body) {
    return "t=" + epochSeconds + ",v1=" + hmac(epochSeconds + "." + body);
  }

  private String hmac(String message) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(key);
      return HexFormat.of().formatHex(mac.doFinal(message.getBytes(StandardCharsets.UTF_8)));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is part of every JDK", e);
    }
  }
}
