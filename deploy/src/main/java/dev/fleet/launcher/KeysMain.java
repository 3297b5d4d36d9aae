package dev.fleet.launcher;

import dev.fleet.model.auth.ApiKey;
import dev.fleet.model.auth.ApiKeyStore;
import dev.fleet.model.store.JobStoreException;
import dev.fleet.stack.EmbeddedPostgres;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * {@code ./fleet keys create|list|revoke}: API keys in the database of the fleet that runs on this
 * checkout's data ({@code ./.fleet}, or {@code --data DIR}), found through its PostgreSQL's {@code
 * postmaster.pid}; or, with {@code --jdbc-url URL} (and {@code FLEET_DB_USER}/{@code
 * FLEET_DB_PASSWORD}, default fleet/fleet), any fleet's database.
 *
 * <pre>
 * keys create --tenant NAME [--admin] [--name TEXT]   the new key alone on the last line
 * keys list [--tenant NAME]
 * keys revoke ID
 * </pre>
 *
 * <p>Exit status: 0 done; 1 no fleet's database (or the key to revoke does not exist); 2 bad
 * arguments.
 */
public final class KeysMain {
  private static final DateTimeFormatter TIME =
      DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss'Z'", Locale.ROOT).withZone(ZoneOffset.UTC);

  private KeysMain() {}

  /** A bad command line. */
  static final class UsageException extends IllegalArgumentException {
    UsageException(String message) {
      super(message);
    }
  }

  /** The parsed command line. */
  record Args(
      String command,
      Path data,
      String jdbcUrl,
      String tenant,
      boolean admin,
      String name,
      String id,
      boolean help) {}

  public static void main(String[] argv) {
    System.exit(run(argv, System.out, System.err));
  }

  static int run(String[] argv, PrintStream out, PrintStream err) {
    Args args;
    try {
      args = parse(argv);
    } catch (UsageException e) {
      err.println("fleet keys: " + e.getMessage());
      err.println(usage());
      return 2;
    }
    if (args.help()) {
      out.println(usage());
      return 0;
    }
    String url;
    try {
      Optional<String> found =
          args.jdbcUrl() != null
              ? Optional.of(args.jdbcUrl())
              : EmbeddedPostgres.runningJdbcUrl(args.data().resolve("postgres"));
      if (found.isEmpty()) {
        err.println(
            "fleet keys: no fleet is running on "
                + LocalFleet.display(args.data())
                + " (start one with ./fleet up, or name a database with --jdbc-url)");
        return 1;
      }
      url = found.get();
    } catch (IOException e) {
      err.println("fleet keys: cannot read " + args.data() + ": " + e.getMessage());
      return 1;
    }
    ApiKeyStore keys =
        new ApiKeyStore(
            DevKey.dataSource(
                url,
                System.getenv().getOrDefault("FLEET_DB_USER", EmbeddedPostgres.USER),
                System.getenv().getOrDefault("FLEET_DB_PASSWORD", EmbeddedPostgres.PASSWORD)));
    try {
      return switch (args.command()) {
        case "create" -> create(keys, args, out);
        case "list" -> list(keys, args, out);
        case "revoke" -> revoke(keys, args, out, err);
        default -> throw new IllegalStateException(args.command());
      };
    } catch (JobStoreException e) {
      err.println("fleet keys: the fleet's database at " + url + " failed: " + reason(e));
      return 1;
    }
  }

  private static String reason(JobStoreException e) {
    if (e.getCause() instanceof SQLException sql && "42P01".equals(sql.getSQLState())) {
      return "it has no api_keys table yet (has the gateway started on it?)";
    }
    return e.getCause() != null ? e.getCause().getMessage() : e.getMessage();
  }

  private static int create(ApiKeyStore keys, Args args, PrintStream out) {
    ApiKeyStore.Created created = keys.create(args.tenant(), args.admin(), args.name());
    ApiKey k = created.key();
    out.println(
        "fleet: "
            + (k.admin() ? "admin key " : "key ")
            + k.id()
            + " for tenant "
            + k.tenant()
            + " (shown this once; revoke it with ./fleet keys revoke "
            + k.id()
            + "):");
    out.println(created.secret());
    out.flush();
    return 0;
  }

  private static int list(ApiKeyStore keys, Args args, PrintStream out) {
    List<ApiKey> all = keys.list(args.tenant());
    out.printf(
        Locale.ROOT,
        "%-12s  %-24s  %-5s  %-20s  %-20s  %s%n",
        "ID",
        "TENANT",
        "ROLE",
        "CREATED",
        "REVOKED",
        "NAME");
    for (ApiKey k : all) {
      out.printf(
          Locale.ROOT,
          "%-12s  %-24s  %-5s  %-20s  %-20s  %s%n",
          k.id(),
          k.tenant(),
          k.admin() ? "admin" : "user",
          time(k.createdAt()),
          k.revokedAt() == null ? "-" : time(k.revokedAt()),
          k.name() == null ? "" : k.name());
    }
    out.flush();
    return 0;
  }

  private static int revoke(ApiKeyStore keys, Args args, PrintStream out, PrintStream err) {
    return switch (keys.revoke(args.id())) {
      case REVOKED -> {
        out.println("fleet: key " + args.id() + " revoked");
        yield 0;
      }
      case ALREADY_REVOKED -> {
        out.println("fleet: key " + args.id() + " was already revoked");
        yield 0;
      }
      case NOT_FOUND -> {
        err.println("fleet keys: no key has the id " + args.id() + " (./fleet keys list)");
        yield 1;
      }
    };
  }

  private static String time(Instant t) {
    return t == null ? "-" : TIME.format(t);
  }

  static Args parse(String[] argv) {
    String command = null;
    Path data = Path.of(".fleet");
    String jdbcUrl = null;
    String tenant = null;
    boolean admin = false;
    String name = null;
    String id = null;
    for (int i = 0; i < argv.length; i++) {
      String arg = argv[i];
      if (arg.equals("-h") || arg.equals("--help") || arg.equals("help")) {
        return new Args(null, data, null, null, false, null, null, true);
      }
      switch (arg) {
        case "--admin" -> admin = true;
        case "--data", "--jdbc-url", "--tenant", "--name" -> {
          if (i + 1 >= argv.length) {
            throw new UsageException(arg + " needs a value");
          }
          String v = argv[++i];
          switch (arg) {
            case "--data" -> data = Path.of(v);
            case "--jdbc-url" -> jdbcUrl = v;
            case "--tenant" -> tenant = v;
            default -> name = v;
          }
        }
        default -> {
          if (arg.startsWith("-")) {
            throw new UsageException("unknown option " + arg);
          }
          if (command == null) {
            if (!List.of("create", "list", "revoke").contains(arg)) {
              throw new UsageException("unknown command " + arg + " (create, list or revoke)");
            }
            command = arg;
          } else if (command.equals("revoke") && id == null) {
            id = arg;
          } else {
            throw new UsageException("unexpected argument " + arg);
          }
        }
      }
    }
    if (command == null) {
      throw new UsageException("which: create, list or revoke?");
    }
    switch (command) {
      case "create" -> {
        if (tenant == null) {
          throw new UsageException("create needs --tenant NAME");
        }
        checkTenant(tenant);
        if (name != null && (name.length() > ApiKeyStore.MAX_NAME || name.isBlank())) {
          throw new UsageException("--name: 1 to " + ApiKeyStore.MAX_NAME + " characters");
        }
      }
      case "list" -> {
        if (tenant != null) {
          checkTenant(tenant);
        }
        if (admin || name != null) {
          throw new UsageException("list takes only --tenant");
        }
      }
      default -> {
        if (id == null) {
          throw new UsageException("revoke needs the key's ID (./fleet keys list shows them)");
        }
        if (tenant != null || admin || name != null) {
          throw new UsageException("revoke takes only the key's ID");
        }
      }
    }
    return new Args(command, data, jdbcUrl, tenant, admin, name, id, false);
  }

  private static void checkTenant(String tenant) {
    try {
      ApiKeyStore.checkTenant(tenant);
    } catch (IllegalArgumentException e) {
      throw new UsageException("--" + e.getMessage());
    }
  }

  static String usage() {
    return """
        usage: ./fleet keys create --tenant NAME [--admin] [--name TEXT]
               ./fleet keys list [--tenant NAME]
               ./fleet keys revoke ID
          API keys in the database of the fleet running on ./.fleet (./fleet up); --data DIR for
          another data directory, --jdbc-url URL for any fleet's database (FLEET_DB_USER,
          FLEET_DB_PASSWORD). A key is shown once, when it is made (alone on the last line), and
          sent as Authorization: Bearer KEY. It reads and changes its tenant's jobs only; --admin
          keys may also manage keys (/v1/admin/keys).""";
  }
}
