package dev.fleet.stack;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;

/** Port helpers: "0" in the configuration means "any free port", resolved before start. */
public final class Ports {
  private Ports() {}

  /**
   * Returns {@code port} unless it is 0, in which case a port that is free right now is returned.
   * The services need a concrete port up front (Kafka's static quorum names the controller's port,
   * PostgreSQL takes it on the command line), so "bind to 0 and ask" is not an option for all of
   * them; the small race between probing and binding is acceptable for a local stack.
   */
  static int resolve(int port) {
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("port out of range: " + port);
    }
    return port != 0 ? port : free();
  }

  /**
   * Resolves {@code port} like {@link #resolve} and fails if something already listens there. A
   * fixed port is usually taken by an earlier stack that still runs; PostgreSQL in particular would
   * not say so (it binds whatever loopback address is left, and the start-up probe then talks to
   * the other server).
   */
  static int resolveFree(int port, String service) throws IOException {
    int resolved = resolve(port);
    checkFree(resolved, service);
    return resolved;
  }

  /** Fails if something listens on the loopback {@code port}; does nothing for 0. */
  static void checkFree(int port, String service) throws IOException {
    if (port == 0) {
      return;
    }
    try (ServerSocket probe = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
      // free
    } catch (IOException e) {
      throw new IOException(
          service + " port " + port + " is already in use (is another stack running?)", e);
    }
  }

  /**
   * Several ports at once, all different: 0 becomes a port free now (held open while the others are
   * picked, so that none is picked twice); a fixed port must be free.
   *
   * @param names what each port is for, in the error when one is in use
   * @param what what may be holding a fixed port ("a fleet", "another stack")
   * @throws IOException naming the port in use
   */
  public static int[] resolveDistinct(int[] asked, String[] names, String what) throws IOException {
    int[] result = new int[asked.length];
    List<ServerSocket> held = new ArrayList<>();
    try {
      for (int i = 0; i < asked.length; i++) {
        try {
          ServerSocket s = new ServerSocket(asked[i], 1, InetAddress.getLoopbackAddress());
          held.add(s);
          result[i] = s.getLocalPort();
        } catch (IOException e) {
          throw new IOException(
              "the "
                  + names[i]
                  + "'s port "
                  + asked[i]
                  + " is already in use (is "
                  + what
                  + " running?)",
              e);
        }
      }
      return result;
    } finally {
      for (ServerSocket s : held) {
        s.close();
      }
    }
  }

  static int free() {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException("no free port", e);
    }
  }
}
