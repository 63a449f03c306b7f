package postgres

// TokenListenerPID returns the process ID of the backend that the store's
// token listener is connected to, 0 while it is reconnecting.
func (s *Store) TokenListenerPID() uint32 { return s.tokens.pid.Load() }
