package dev.fleet.launcher;

import dev.fleet.model.cli.HelpOption;
import java.nio.file.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code ./fleet keys}' command line as picocli parses it: three subcommands sharing where the
 * fleet's database is; {@link KeysMain#parse} checks the values and makes its {@link
 * KeysMain.Args}.
 */
@Command(
    name = "./fleet keys",
    description =
        "API keys in the database of the fleet running on ./.fleet (./fleet up); --data DIR for"
            + " another data directory, --jdbc-url URL for any fleet's database (FLEET_DB_USER,"
            + " FLEET_DB_PASSWORD). A key is shown once, when it is made (alone on the last line),"
            + " and sent as Authorization: Bearer KEY. It reads and changes its tenant's jobs"
            + " only; --admin keys may also manage keys (/v1/admin/keys).",
    subcommands = {KeysOptions.Create.class, KeysOptions.List.class, KeysOptions.Revoke.class},
    footer = "Exit status: 0 done, 1 no fleet's database (or no such key), 2 bad arguments.")
final class KeysOptions {
  @Mixin HelpOption help = new HelpOption();

  /** {@code ./fleet} passes {@code --data} before the subcommand; a subcommand's own wins. */
  @Mixin Database db = new Database();

  /** Where the fleet's database is: every subcommand takes these. */
  static final class Database {
    @Option(
        names = "--data",
        paramLabel = "DIR",
        description = "the data directory of the fleet (default .fleet)")
    Path data = Path.of(".fleet");

    @Option(
        names = "--jdbc-url",
        paramLabel = "URL",
        description = "a fleet's database instead of the one running on --data")
    String jdbcUrl;
  }

  /** What every subcommand takes: its help and where the fleet's database is. */
  abstract static class Subcommand {
    @Mixin HelpOption help = new HelpOption();
    @Mixin Database db = new Database();
  }

  @Command(name = "create", description = "Makes a key; prints it alone on the last line.")
  static final class Create extends Subcommand {
    @Option(
        names = "--tenant",
        required = true,
        paramLabel = "NAME",
        description = "the tenant whose jobs the key reads and changes")
    String tenant;

    @Option(names = "--admin", description = "the key may also manage keys")
    boolean admin;

    @Option(names = "--name", paramLabel = "TEXT", description = "what the key is for")
    String name;
  }

  @Command(name = "list", description = "Every key (revoked ones too), or a tenant's.")
  static final class List extends Subcommand {
    @Option(names = "--tenant", paramLabel = "NAME", description = "only this tenant's keys")
    String tenant;
  }

  @Command(
      name = "revoke",
      description = "Revokes a key: gateways refuse it within moments (their notification).")
  static final class Revoke extends Subcommand {
    @Parameters(paramLabel = "ID", description = "the key's public id (./fleet keys list)")
    String id;
  }
}
