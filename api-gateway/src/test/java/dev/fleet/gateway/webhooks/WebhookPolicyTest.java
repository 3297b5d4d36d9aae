package dev.fleet.gateway.webhooks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The webhook address policy on address literals (no name lookup): https to public addresses only,
 * unless the operator's allow-list admits the host, address or block.
 */
class WebhookPolicyTest {
  static final WebhookPolicy STRICT = new WebhookPolicy(List.of());
  static final WebhookPolicy ALLOWING =
      new WebhookPolicy(List.of("127.0.0.1", "10.20.0.0/16", "fd00::/8", " "));

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "https://127.0.0.1/hook|loopback",
        "https://127.9.9.9:8443/hook|loopback",
        "https://[::1]/hook|loopback",
        "https://0.0.0.0/hook|wildcard",
        "https://169.254.169.254/latest/meta-data|link-local",
        "https://[fe80::1]/hook|link-local",
        "https://10.1.2.3/hook|private",
        "https://172.16.0.1/hook|private",
        "https://192.168.1.1/hook|private",
        "https://[fd12:3456::1]/hook|unique-local",
        "https://100.64.0.1/hook|carrier-grade NAT",
        "https://224.0.0.1/hook|multicast",
        "https://[::ffff:10.0.0.1]/hook|private",
        "http://203.0.113.5/hook|must be an https:// URL",
        "ftp://203.0.113.5/hook|must be an https:// URL",
        "/relative/hook|must be an https:// URL",
        "https://user:secret@203.0.113.5/hook|must not carry credentials",
        "https://203.0.113.5/hook#frag|must not have a fragment",
        "not a url at all|is not a URL",
        "https:///no-host|must name a host",
        "https://%zz/hook|is not a URL",
        "https://[fe80::1%25eth0]/hook|does not resolve",
        "https://a..b.invalid/hook|must name a host",
        "https://[::ffff:127.0.0.1]/hook|loopback",
        "https://2130706433/hook|loopback",
        "https://0x7f.1/hook|must name a host",
      })
  void refusedWithTheReason(String url, String reason) {
    var e = assertThrows(WebhookPolicy.RefusedException.class, () -> STRICT.check(url));
    assertTrue(e.getMessage().contains(reason), url + ": " + e.getMessage());
  }

  @ParameterizedTest
  @CsvSource({"https://203.0.113.5/hook", "https://[2001:db8::1]:8443/a?b=c"})
  void publicHttpsAddressesAreAdmitted(String url) throws Exception {
    assertEquals(URI.create(url), STRICT.check(url));
  }

  @ParameterizedTest
  @CsvSource({
    "http://127.0.0.1:8080/hook",
    "https://10.20.3.4/hook",
    "http://[fd00::5]/hook",
  })
  void theAllowListAdmitsInternalReceiversOverHttpToo(String url) throws Exception {
    assertEquals(URI.create(url), ALLOWING.check(url));
  }

  @ParameterizedTest
  @CsvSource({"https://127.0.0.2/hook", "https://10.21.0.1/hook", "http://203.0.113.5/hook"})
  void onlyWhatTheAllowListNames(String url) {
    assertThrows(WebhookPolicy.RefusedException.class, () -> ALLOWING.check(url));
  }

  @ParameterizedTest
  @CsvSource({"10.0.0.0/33", "1.2.3.4/x", "::zz/8"})
  void aBadAllowListEntryIsAnError(String entry) {
    assertThrows(IllegalArgumentException.class, () -> new WebhookPolicy(List.of(entry)));
  }

  @ParameterizedTest
  @CsvSource({"https://very-long.example/", "https://a.example/"})
  void overLongUrlsAreRefused(String base) {
    String url = base + "x".repeat(WebhookPolicy.MAX_LENGTH);
    assertThrows(WebhookPolicy.RefusedException.class, () -> STRICT.check(url));
  }
}
