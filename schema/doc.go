// Package schema owns etcdform's HCL language: it loads the .hcl files of a
// directory, evaluates variables, locals and functions, decodes every
// cluster into the typed desired model (Config) with etcd's defaults
// applied, and validates it. Problems come back as hcl.Diagnostics with
// source ranges; Load reports every problem it finds, not only the first.
package schema
