package dev.fleet.launcher;

import dev.fleet.model.auth.ApiKey;
import dev.fleet.model.auth.ApiKeyStore;
import dev.fleet.model.cli.CommandLines;
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
import picocli.CommandLine;
import picocli.CommandLine.ParseResult;

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
      boolean help,
      String helpText) {}

  public static void main(String[] argv) {
    System.exit(run(argv, System.out, System.err));
  }

  static int run(String[] argv, PrintStream out, PrintStream err) {
    Args args;
    try {
      args = parse(argv);
    } catch (UsageException e) {
      err.println("fleet keys: " + e.getMessage());
      err.println("usage: ./fleet keys create --tenant NAME [--admin] [--name TEXT]");
      err.println("       ./fleet keys list [--tenant NAME]");
      err.println("       ./fleet keys revoke ID        (./fleet keys [COMMAND] --help)");
      return 2;
    }
    if (args.help()) {
      out.print(args.helpText());
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
    if (List.of(argv).contains("help")) {
      return new Args(null, Path.of(".fleet"), null, null, false, null, null, true, usage());
    }
    KeysOptions top = new KeysOptions();
    CommandLine line;
    try {
      line = CommandLines.parse(top, true, argv);
    } catch (IllegalArgumentException e) {
      throw new UsageException(e.getMessage());
    }
    ParseResult result = line.getParseResult();
    ParseResult sub = result.subcommand();
    if (result.isUsageHelpRequested() || (sub != null && sub.isUsageHelpRequested())) {
      String text =
          sub != null && sub.isUsageHelpRequested()
              ? sub.commandSpec().commandLine().getUsageMessage()
              : usage();
      return new Args(null, top.db.data, null, null, false, null, null, true, text);
    }
    if (sub == null) {
      throw new UsageException("which: create, list or revoke?");
    }
    Object options = sub.commandSpec().userObject();
    KeysOptions.Database db = ((KeysOptions.Subcommand) options).db;
    Path data = sub.hasMatchedOption("--data") ? db.data : top.db.data;
    String jdbcUrl = sub.hasMatchedOption("--jdbc-url") ? db.jdbcUrl : top.db.jdbcUrl;
    return switch (options) {
      case KeysOptions.Create c -> {
        checkTenant(c.tenant);
        if (c.name != null && (c.name.length() > ApiKeyStore.MAX_NAME || c.name.isBlank())) {
          throw new UsageException("--name: 1 to " + ApiKeyStore.MAX_NAME + " characters");
        }
        yield new Args("create", data, jdbcUrl, c.tenant, c.admin, c.name, null, false, null);
      }
      case KeysOptions.List l -> {
        if (l.tenant != null) {
          checkTenant(l.tenant);
        }
        yield new Args("list", data, jdbcUrl, l.tenant, false, null, null, false, null);
      }
      case KeysOptions.Revoke r -> {
        if (r.id == null) {
          throw new UsageException("revoke needs the key's ID (./fleet keys list shows them)");
        }
        yield new Args("revoke", data, jdbcUrl, null, false, null, r.id, false, null);
      }
      default -> throw new IllegalStateException(options.toString());
    };
  }

  private static void checkTenant(String tenant) {
    try {
      ApiKeyStore.checkTenant(tenant);
    } catch (IllegalArgumentException e) {
      throw new UsageException("--" + e.getMessage());
    }
  }

  static String usage() {
    return CommandLines.usage(new KeysOptions());
  }
}
