"""claims: the claims ledger (`ledger`: what a paper claims, declared in its config), the judge
that gives each claim its verdict from finished runs (`judge`, with its statistics in
`stats`). Both the report generator and the reachability study judge claims, so the judge
stands here, below both: it reads run folders through core and imports no other wing."""
