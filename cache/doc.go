// Package cache is sluice's shared HTTP cache (RFC 9111): what may be
// stored, for how long, under which key, and how old a stored response is.
// It holds no network code; the proxy session consults it.
package cache
