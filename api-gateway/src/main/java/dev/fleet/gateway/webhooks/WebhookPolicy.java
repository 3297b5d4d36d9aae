package dev.fleet.gateway.webhooks;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Which URLs a job's webhook may name: https to public addresses only, so that the gateway cannot
 * be made to call into its own network (loopback, link-local such as cloud metadata services,
 * private and unique-local ranges, carrier-grade NAT, multicast). Every address a host name
 * resolves to must be public. An operator allow-list (hosts, addresses, CIDR blocks) admits
 * internal receivers, over http too. The relay asks again before each delivery, so a name that
 * resolves elsewhere later is refused then.
 */
public final class WebhookPolicy {
  public static final int MAX_LENGTH = 2000;

  private final List<String> hosts = new ArrayList<>();
  private final List<Cidr> blocks = new ArrayList<>();

  /**
   * @param allow host names, addresses and CIDR blocks admitted although not public
   * @throws IllegalArgumentException an entry that is no host name, address or block
   */
  public WebhookPolicy(List<String> allow) {
    for (String entry : allow) {
      String e = entry.trim().toLowerCase(Locale.ROOT);
      if (e.isEmpty()) {
        continue;
      }
      if (e.contains("/") || Cidr.isLiteral(e)) {
        blocks.add(Cidr.parse(e));
      } else {
        hosts.add(e);
      }
    }
  }

  /** The URL as a URI if a webhook may name it; otherwise why not, for the 422. */
  public URI check(String url) throws RefusedException {
    if (url.length() > MAX_LENGTH) {
      throw new RefusedException("is longer than " + MAX_LENGTH + " characters");
    }
    URI uri;
    try {
      uri = new URI(url);
    } catch (URISyntaxException e) {
      throw new RefusedException("is not a URL: " + e.getReason());
    }
    Optional<String> refusal = refusal(uri);
    if (refusal.isPresent()) {
      throw new RefusedException(refusal.get());
    }
    return uri;
  }

  /** Why a webhook may not call {@code uri} (resolving its host now), or empty if it may. */
  public Optional<String> refusal(URI uri) {
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
    if (!uri.isAbsolute() || !(scheme.equals("https") || scheme.equals("http"))) {
      return Optional.of("must be an https:// URL");
    }
    String host = uri.getHost();
    if (host == null || host.isEmpty()) {
      return Optional.of("must name a host");
    }
    if (uri.getRawUserInfo() != null) {
      return Optional.of("must not carry credentials");
    }
    if (uri.getRawFragment() != null) {
      return Optional.of("must not have a fragment");
    }
    String name = host.startsWith("[") ? host.substring(1, host.length() - 1) : host;
    name = name.toLowerCase(Locale.ROOT);
    InetAddress[] addresses;
    try {
      addresses = InetAddress.getAllByName(name);
    } catch (UnknownHostException | RuntimeException e) {
      return Optional.of("names a host that does not resolve: " + name);
    }
    boolean allowedHost = hosts.contains(name);
    for (InetAddress a : addresses) {
      if (allowedHost || blocks.stream().anyMatch(b -> b.contains(a))) {
        continue;
      }
      String kind = internal(a);
      if (kind != null) {
        return Optional.of(
            "resolves to " + a.getHostAddress() + ", a " + kind + " address, which is refused");
      }
    }
    boolean allowed =
        allowedHost
            || List.of(addresses).stream()
                .allMatch(a -> blocks.stream().anyMatch(b -> b.contains(a)));
    if (scheme.equals("http") && !allowed) {
      return Optional.of("must be an https:// URL");
    }
    return Optional.empty();
  }

  /** What kind of non-public address {@code a} is, or null for a public one. */
  static String internal(InetAddress a) {
    if (a.isLoopbackAddress()) {
      return "loopback";
    }
    if (a.isAnyLocalAddress()) {
      return "wildcard";
    }
    if (a.isLinkLocalAddress()) {
      return "link-local";
    }
    if (a.isSiteLocalAddress()) {
      return "private";
    }
    if (a.isMulticastAddress()) {
      return "multicast";
    }
    byte[] b = a.getAddress();
    if (a instanceof Inet4Address) {
      int first = b[0] & 0xff;
      int second = b[1] & 0xff;
      if (first == 100 && second >= 64 && second < 128) {
        return "carrier-grade NAT";
      }
      if (first == 0 || first >= 240) {
        return "reserved";
      }
    } else if (a instanceof Inet6Address) {
      if ((b[0] & 0xfe) == 0xfc) {
        return "unique-local";
      }
    }
    return null;
  }

  /** A webhook URL that the policy refuses, and why (a phrase after "webhook"). */
  public static final class RefusedException extends Exception {
    public RefusedException(String reason) {
      super(reason, null, false, false);
    }
  }

  /** An address block, {@code 10.0.0.0/8} or {@code fd00::/8}; a bare address is a block of one. */
  record Cidr(byte[] network, int bits) {
    /** An IPv4 or IPv6 address literal (no name lookup is needed for it). */
    static boolean isLiteral(String s) {
      return s.matches("\\d{1,3}(\\.\\d{1,3}){3}") || s.contains(":");
    }

    static Cidr parse(String s) {
      int slash = s.indexOf('/');
      String address = slash < 0 ? s : s.substring(0, slash);
      try {
        if (!isLiteral(address)) {
          throw new IllegalArgumentException("not an address: " + address);
        }
        byte[] net = InetAddress.getByName(address).getAddress();
        int bits = slash < 0 ? net.length * 8 : Integer.parseInt(s.substring(slash + 1));
        if (bits < 0 || bits > net.length * 8) {
          throw new IllegalArgumentException("bad prefix length in " + s);
        }
        return new Cidr(net, bits);
      } catch (IllegalArgumentException | UnknownHostException e) {
        throw new IllegalArgumentException(
            "fleet.webhooks.allow: " + s + " is no host name, address or CIDR block", e);
      }
    }

    boolean contains(InetAddress a) {
      byte[] b = a.getAddress();
      if (b.length != network.length) {
        return false;
      }
      for (int i = 0; i < bits; i++) {
        int mask = 0x80 >>> (i % 8);
        if ((b[i / 8] & mask) != (network[i / 8] & mask)) {
          return false;
        }
      }
      return true;
    }
  }
}
