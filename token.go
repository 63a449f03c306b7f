package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"itemsapi/items"
)

// bootstrap makes token, when set, a valid ADMIN token of user admin, and
// revokes the previous bootstrap token when the value changed. A value
// that was revoked stays revoked: the server starts, and warns. It is safe
// at every start and from several processes at once. Neither value is
// ever logged; the token's ID is.
func bootstrap(ctx context.Context, store items.Store, token string, log *slog.Logger) error {
	if token == "" {
		return nil
	}
	if len(token) < 16 {
		log.Warn("BOOTSTRAP_ADMIN_TOKEN is shorter than 16 characters: guessable tokens are unsafe")
	}
	res, err := store.BootstrapToken(ctx, items.HashToken(token))
	if err != nil {
		return fmt.Errorf("bootstrap admin token: %w", err)
	}
	switch {
	case res.Revoked:
		log.Warn("BOOTSTRAP_ADMIN_TOKEN has been revoked and stays revoked: it grants nothing; set a new value, or unset it",
			"token_id", res.Token.ID)
	case res.RevokedPrevious > 0:
		log.Info("bootstrap admin token changed: the previous one is revoked", "user", "admin",
			"token_id", res.Token.ID, "revoked", res.RevokedPrevious)
	default:
		log.Info("bootstrap admin token ready", "user", "admin", "token_id", res.Token.ID)
	}
	return nil
}

const tokenUsage = `usage:
  itemsapi token create --user NAME [--role USER|ADMIN] [--expires DURATION] [--db DSN]
  itemsapi token list [--user NAME] [--db DSN]
  itemsapi token revoke ID [--db DSN]`

// runToken implements the token subcommands against the store that --db
// (or DATABASE_URL) names, as the server would open it.
func runToken(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, log *slog.Logger) error {
	if len(args) == 0 {
		return errors.New(tokenUsage)
	}
	fs := flag.NewFlagSet("token "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	db := "sqlite:items.db"
	if v := getenv("DATABASE_URL"); v != "" {
		db = v
	}
	fs.StringVar(&db, "db", db, "store: sqlite:PATH or postgres://… (env DATABASE_URL)")
	user := fs.String("user", "", "the user's name")
	role := fs.String("role", string(items.RoleUser), "USER or ADMIN")
	expires := fs.Duration("expires", 0, "how long the token works, e.g. 720h (at most a year); 0: forever")
	// Flags may come before or after the ID of revoke.
	var rest []string
	for a := args[1:]; ; {
		if err := fs.Parse(a); err != nil {
			return fmt.Errorf("%w\n%s", err, tokenUsage)
		}
		if fs.NArg() == 0 {
			break
		}
		rest = append(rest, fs.Arg(0))
		a = fs.Args()[1:]
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if db == "memory" {
		return errors.New("--db memory keeps nothing: tokens made or revoked there would be lost")
	}

	var run func(items.Store) error
	switch args[0] {
	case "create":
		if len(rest) > 0 {
			return fmt.Errorf("unexpected argument %q\n%s", rest[0], tokenUsage)
		}
		name, err := items.ValidateUserName(*user)
		if err != nil {
			return fmt.Errorf("--user: %w", err)
		}
		r := items.Role(strings.ToUpper(*role))
		if !r.Valid() {
			return fmt.Errorf("--role %q: want USER or ADMIN", *role)
		}
		var expiresAt *time.Time
		if *expires != 0 {
			now := time.Now().UTC()
			at := now.Add(*expires)
			if err := items.ValidateExpiry(&at, now); err != nil {
				return fmt.Errorf("--expires %v: %w", *expires, err)
			}
			expiresAt = &at
		}
		run = func(s items.Store) error { return createToken(ctx, s, name, r, expiresAt, stdout, log) }
	case "list":
		if len(rest) > 0 || given["role"] || given["expires"] {
			return errors.New(tokenUsage)
		}
		run = func(s items.Store) error { return listTokens(ctx, s, *user, given["user"], stdout) }
	case "revoke":
		if len(rest) != 1 || given["user"] || given["role"] || given["expires"] {
			return errors.New(tokenUsage)
		}
		id, err := strconv.ParseInt(rest[0], 10, 64)
		if err != nil || id <= 0 {
			// A token's non-secret prefix names it too: itm_42_…
			var ok bool
			if id, ok = items.TokenIDFromPrefix(rest[0]); !ok {
				return fmt.Errorf("token revoke %q: want a token ID, as token list shows", rest[0])
			}
		}
		run = func(s items.Store) error { return revokeToken(ctx, s, id, stdout, log) }
	default:
		return fmt.Errorf("unknown token command %q\n%s", args[0], tokenUsage)
	}

	i, err := backendOf(db)
	if err != nil {
		return err
	}
	// The backend's own flags are the server's: the defaults here.
	open := backends[i].flags(flag.NewFlagSet("", flag.ContinueOnError))
	store, err := open(ctx, db, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer store.Close()
	return run(store)
}

// createToken makes the token and prints it alone, as the last line.
func createToken(ctx context.Context, store items.Store, name string, role items.Role, expiresAt *time.Time, stdout io.Writer, log *slog.Logger) error {
	tok, token, err := store.CreateToken(ctx, items.NewTokenRequest{UserName: name, Role: role, ExpiresAt: expiresAt})
	if items.ErrorCode(err) == items.Invalid {
		return fmt.Errorf("--user %q: %w", name, err)
	}
	if err != nil {
		return err
	}
	attrs := []any{"token_id", tok.ID, "user", name, "role", role}
	if expiresAt != nil {
		attrs = append(attrs, "expires", expiresAt.Format(time.RFC3339))
	}
	log.Info("token created", attrs...)
	_, err = fmt.Fprintln(stdout, token)
	return err
}

// listTokens prints a table of the tokens, all or one user's; never a
// secret, which the store does not have.
func listTokens(ctx context.Context, store items.Store, user string, byUser bool, stdout io.Writer) error {
	var userID int64
	if byUser {
		u, err := store.UserByName(ctx, user)
		if items.ErrorCode(err) == items.NotFound {
			return fmt.Errorf("--user %q: no such user", user)
		}
		if err != nil {
			return err
		}
		userID = u.ID
	}
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tUSER\tROLE\tCREATED\tEXPIRES\tLAST USED\tREVOKED")
	names := map[int64]string{}
	for after := int64(0); ; {
		page, err := store.Tokens(ctx, items.TokenQuery{UserID: userID, After: after, Limit: items.MaxPageSize})
		if err != nil {
			return err
		}
		var missing []int64
		for _, t := range page {
			if _, ok := names[t.UserID]; !ok {
				missing = append(missing, t.UserID)
			}
		}
		users, err := store.Users(ctx, missing)
		if err != nil {
			return err
		}
		for _, u := range users {
			names[u.ID] = u.Name
		}
		for _, t := range page {
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, names[t.UserID], t.Role,
				t.CreatedAt.Format(time.RFC3339), when(t.ExpiresAt, "never"), when(t.LastUsedAt, "-"), when(t.RevokedAt, "-"))
		}
		if len(page) < items.MaxPageSize {
			break
		}
		after = page[len(page)-1].ID
	}
	return w.Flush()
}

func when(t *time.Time, none string) string {
	if t == nil {
		return none
	}
	return t.UTC().Format(time.RFC3339)
}

// revokeToken revokes the token, even the last usable ADMIN one (which
// GraphQL refuses), with a warning then.
func revokeToken(ctx context.Context, store items.Store, id int64, stdout io.Writer, log *slog.Logger) error {
	before, err := store.Token(ctx, id)
	if items.ErrorCode(err) == items.NotFound {
		return fmt.Errorf("token revoke %d: no such token", id)
	}
	if err != nil {
		return err
	}
	tok, err := store.RevokeToken(ctx, id, true)
	if errors.Is(err, items.ErrLastAdmin) {
		log.Warn("revoking the last unrevoked, unexpired ADMIN token: until a new one is made (itemsapi token create --role ADMIN, or a new BOOTSTRAP_ADMIN_TOKEN), nobody can create or revoke other users' tokens through the API",
			"token_id", id)
		tok, err = store.RevokeToken(ctx, id, false)
	}
	if err != nil {
		return err
	}
	if before.RevokedAt != nil {
		_, err = fmt.Fprintf(stdout, "token %d was already revoked at %s\n", id, when(tok.RevokedAt, "-"))
		return err
	}
	_, err = fmt.Fprintf(stdout, "token %d revoked at %s\n", id, when(tok.RevokedAt, "-"))
	return err
}
