package postgres

import (
	"errors"
	"flag"
	"strconv"
)

// RegisterFlags registers the command-line flags of a PostgreSQL store on
// fs, filling c when fs is parsed; their defaults are Open's.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.Var(int32Flag{&c.MaxConns}, "pg-max-conns", "PostgreSQL pool size (0: the URL's pool_max_conns, else 16)")
	fs.DurationVar(&c.ConnectTimeout, "pg-connect-timeout", DefaultConnectTimeout, "PostgreSQL connect timeout")
	fs.DurationVar(&c.StatementTimeout, "pg-statement-timeout", DefaultStatementTimeout, "PostgreSQL statement timeout")
}

// int32Flag is a flag.Value for an int32 setting of 0 or more.
type int32Flag struct{ p *int32 }

func (f int32Flag) String() string {
	if f.p == nil {
		return "0"
	}
	return strconv.FormatInt(int64(*f.p), 10)
}

func (f int32Flag) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n < 0 {
		return errors.New("want a number from 0 up")
	}
	*f.p = int32(n)
	return nil
}
