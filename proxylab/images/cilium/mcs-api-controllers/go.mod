// A stand-in for sigs.k8s.io/mcs-api/controllers, which the Go module proxy does not serve
// (404 for every version). See ../README.md.
module sigs.k8s.io/mcs-api/controllers

go 1.24
