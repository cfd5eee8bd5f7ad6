// Package layout holds the tests that check the repository's own shape: what git tracks (no
// build outputs, no runtime data), the layering of the packages' imports (producers under
// consumers under the dashboard under cmd; sim/ only from cmd), and make demo's
// output. It has no code of its own.
package layout
