// Package positive fills in the defaults of settings that must be
// positive, where zero or less means "not set".
package positive

// Number is a setting that must be positive: a count, a size or a
// duration (time.Duration is an int64).
type Number interface {
	~int | ~int64
}

// Or returns v when it is positive, and def otherwise.
func Or[T Number](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}
