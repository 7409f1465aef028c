package engine

// Config returns the configuration the server runs with: the Config given
// to NewServer with every zero field set to its default, Loops as derived
// from GOMAXPROCS and MaxConns from the descriptor budget (half of it, see
// connCap). Limits are as given: the parser applies their defaults
// (parser.Limits). It is what an operator's view of the configuration in
// force (cmd/sluice's /config) shows, so that it never restates how the
// engine derives a value.
func (s *Server) Config() Config { return s.cfg }
