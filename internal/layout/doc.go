// Package layout holds the tests that check the repository's own shape: what git tracks (no
// build outputs, no runtime data). It has no code of its own.
package layout
