package cca

import "fmt"

// Lifecycle is the platform security lifecycle claim (2395). The high byte
// selects the lifecycle state; the low byte is implementation defined.
type Lifecycle uint16

// LifecycleState is the state a Lifecycle value falls in.
type LifecycleState uint8

// Lifecycle states, each covering the claim values 0xN000-0xN0ff.
const (
	LifecycleUnknown                     LifecycleState = iota // 0x0000-0x00ff
	LifecycleAssemblyAndTest                                   // 0x1000-0x10ff
	LifecyclePlatformRoTProvisioning                           // 0x2000-0x20ff
	LifecycleSecured                                           // 0x3000-0x30ff
	LifecycleNonPlatformRoTDebug                               // 0x4000-0x40ff
	LifecycleRecoverablePlatformRoTDebug                       // 0x5000-0x50ff
	LifecycleDecommissioned                                    // 0x6000-0x60ff
	LifecycleInvalid                                           // any other value
)

var lifecycleNames = [...]string{
	LifecycleUnknown:                     "unknown",
	LifecycleAssemblyAndTest:             "assembly-and-test",
	LifecyclePlatformRoTProvisioning:     "cca-platform-rot-provisioning",
	LifecycleSecured:                     "secured",
	LifecycleNonPlatformRoTDebug:         "non-cca-platform-rot-debug",
	LifecycleRecoverablePlatformRoTDebug: "recoverable-cca-platform-rot-debug",
	LifecycleDecommissioned:              "decommissioned",
	LifecycleInvalid:                     "invalid",
}

// String returns the state's name, e.g. "secured".
func (s LifecycleState) String() string {
	if int(s) < len(lifecycleNames) {
		return lifecycleNames[s]
	}
	return lifecycleNames[LifecycleInvalid]
}

// Valid reports whether s is one of the defined states.
func (s LifecycleState) Valid() bool { return s < LifecycleInvalid }

// State returns the lifecycle state the value falls in.
func (l Lifecycle) State() LifecycleState {
	hi := l >> 8
	if hi&0x0f != 0 || hi>>4 > 6 {
		return LifecycleInvalid
	}
	return LifecycleState(hi >> 4)
}

// Secured reports whether the platform is in the secured state, the only
// state in which a production platform should be trusted.
func (l Lifecycle) Secured() bool { return l.State() == LifecycleSecured }

// String returns the state name and the raw value, e.g. "secured (0x3003)".
func (l Lifecycle) String() string { return fmt.Sprintf("%s (0x%04x)", l.State(), uint16(l)) }
