package keybinding

// ClaimsBindingDetail lets the external tests check the mismatch detail.
var ClaimsBindingDetail = claimsBindingDetail
