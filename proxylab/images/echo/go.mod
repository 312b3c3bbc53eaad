module proxylab.dev/echo

go 1.22
