package items

// Role is what a token allows. The zero value is not a valid role.
type Role string

// The roles, from least to most allowed.
const (
	RoleUser  Role = "USER"
	RoleAdmin Role = "ADMIN"
)

// Valid reports whether r is one of the roles above.
func (r Role) Valid() bool { return r == RoleUser || r == RoleAdmin }

// Allows reports whether a caller with role r may use a field that requires
// role need.
func (r Role) Allows(need Role) bool {
	return r == RoleAdmin || (r == RoleUser && need == RoleUser)
}

// String returns the role's GraphQL name.
func (r Role) String() string { return string(r) }
