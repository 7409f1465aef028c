package policy

import (
	"bytes"
	"crypto/sha256"
	"net/netip"
	"sync"
)

// Verify checks the value of a Proxy-Authorization header as Authenticate
// does, without blocking and with bounded cost. It is what the event loop
// calls when AuthRequired.
//
// If the answer needs no bcrypt (no Auth configured, a malformed header, a
// credential in the cache), Verify calls done before it returns, on the
// caller's goroutine. Otherwise it queues a verification for a bounded set
// of worker goroutines (AuthConfig.Workers) and returns nil; a worker calls
// done once it is finished. done gets ok false for any refused credential:
// answer ErrAuthRequired. done must not block: it holds up a worker.
//
// Verify refuses, returning the error and never calling done, when
// AuthConfig.Queue verifications already wait (ErrAuthOverloaded, 503) or
// when client (unmapped) already has AuthConfig.MaxPerClient verifications
// waiting or running (ErrAuthClientBusy, 429): 200 connections with random
// passwords cost at most Workers CPUs, and one client cannot fill the
// queue. A credential already being verified is not verified twice: the
// caller waits for the same verification, which it is not charged for.
//
// proxyAuthorization is not kept after Verify returns. Verify of a cached
// credential allocates nothing (beyond what the caller's done costs).
// Workers exist only while there is work: no Start, no Stop.
func (p *Policy) Verify(client netip.Addr, proxyAuthorization []byte, done func(user string, ok bool)) error {
	a := p.auth
	if a == nil {
		done("", true)
		return nil
	}
	cred, valid := basicCredentials(proxyAuthorization)
	if !valid {
		done("", false)
		return nil
	}
	key := sha256.Sum256(cred)
	if e, hit := a.lookup(key); hit {
		doneEntry(done, e)
		return nil
	}
	var buf [maxCredentials]byte
	user, pass, ok := decodeCredentials(&buf, cred)
	if !ok {
		done("", false)
		return nil
	}
	return a.enqueue(client.Unmap().WithZone(""), key, user, pass, done)
}

// doneEntry answers done with a cached outcome.
func doneEntry(done func(string, bool), e authEntry) {
	if !e.ok {
		done("", false)
		return
	}
	done(e.user, true)
}

// verifier runs the bcrypt verifications of Verify on at most workers
// goroutines, started when a verification is queued and fewer are running,
// exiting when the queue is empty: when the Policy is dropped, so are they.
type verifier struct {
	// Set once by newAuthenticator.
	workers, queueMax, maxPerClient int

	mu sync.Mutex
	// Guarded by mu. Invariant: the queue holds jobs only while running
	// == workers (a job finds an idle worker slot before it is queued).
	running   int                            // worker goroutines
	queue     []*authJob                     // waiting jobs, oldest first
	inflight  map[[sha256.Size]byte]*authJob // jobs waiting or running, by credential
	perClient map[netip.Addr]int             // jobs waiting or running, by the client that queued them
}

// authJob is one verification, waiting or running, and who waits for it.
type authJob struct {
	// Set when queued.
	key    [sha256.Size]byte
	user   string
	pass   []byte     // a copy, owned by the job; cleared after bcrypt
	client netip.Addr // charged for the job (MaxPerClient)

	// Guarded by verifier.mu.
	waiters []func(user string, ok bool)
}

func (v *verifier) init() {
	v.inflight = make(map[[sha256.Size]byte]*authJob)
	v.perClient = make(map[netip.Addr]int)
}

// enqueue joins the verification of key if one is in flight, else starts
// one: on a new worker if fewer than workers run, else in the queue, unless
// a bound refuses it. user and pass are copied.
func (a *authenticator) enqueue(client netip.Addr, key [sha256.Size]byte, user, pass []byte, done func(string, bool)) error {
	v := &a.pool
	v.mu.Lock()
	if j := v.inflight[key]; j != nil {
		j.waiters = append(j.waiters, done)
		v.mu.Unlock()
		return nil
	}
	// A verification of key may have ended since Verify's lookup: its
	// outcome is cached before it leaves inflight.
	if e, hit := a.cached(key); hit {
		v.mu.Unlock()
		doneEntry(done, e)
		return nil
	}
	if v.perClient[client] >= v.maxPerClient {
		v.mu.Unlock()
		return ErrAuthClientBusy
	}
	if v.running == v.workers && len(v.queue) >= v.queueMax {
		v.mu.Unlock()
		return ErrAuthOverloaded
	}
	j := &authJob{key: key, user: string(user), pass: bytes.Clone(pass), client: client,
		waiters: []func(string, bool){done}}
	v.inflight[key] = j
	v.perClient[client]++
	if v.running < v.workers {
		v.running++
		v.mu.Unlock()
		go a.work(j)
		return nil
	}
	v.queue = append(v.queue, j)
	v.mu.Unlock()
	return nil
}

// work is a worker goroutine: it verifies j, then the queued jobs, and
// exits when the queue is empty.
func (a *authenticator) work(j *authJob) {
	v := &a.pool
	for j != nil {
		user, ok := a.check(j.user, j.pass, j.key) // caches the outcome
		clear(j.pass)

		v.mu.Lock()
		delete(v.inflight, j.key)
		if c := v.perClient[j.client] - 1; c > 0 {
			v.perClient[j.client] = c
		} else {
			delete(v.perClient, j.client)
		}
		waiters := j.waiters
		j.waiters = nil
		next := (*authJob)(nil)
		if len(v.queue) > 0 {
			next = v.queue[0]
			v.queue[0] = nil
			v.queue = v.queue[1:]
		} else {
			v.running--
		}
		v.mu.Unlock()

		for _, done := range waiters {
			done(user, ok)
		}
		j = next
	}
}
