/** What the project's command lines (picocli) share: parsing, generated help, error messages. */
package dev.fleet.model.cli;
