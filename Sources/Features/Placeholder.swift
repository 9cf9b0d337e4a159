// Features: see docs/architecture.md. This file goes when the module has real sources.
