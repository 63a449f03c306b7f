package plan

// Answered returns how many operations plans have answered.
func Answered() uint64 { return answered.Load() }
