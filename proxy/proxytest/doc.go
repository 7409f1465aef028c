// Package proxytest drives a proxy.Session in memory (MemDriver) on the same
// proxy.Pump the engines use, deterministically and without sockets: dials,
// DNS answers, timers, verified credentials, bodies in stream mode and
// tunnels are events the test (or FuzzSession) delivers in any order.
package proxytest
