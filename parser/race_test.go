//go:build race

package parser

// The race detector makes the parsers about ten times slower: the linearity
// tests (linear_test.go) take inputs a quarter the size, for the same ratios.
func init() { linearSmall, linearBig = linearSmall/4, linearBig/4 }
