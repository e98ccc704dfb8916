// Package command implements etcdform's subcommands. Each command parses its
// flags into an argument struct (package arguments), does its work through
// the schema, plan, apply and providers packages, and renders through a view
// (package views). Run is the single entry point that main calls; it never
// exits the process, so every command is testable in-process.
package command
