package shoptoken

// Version is this SDK's version; platform requests carry it in their User-Agent.
const Version = "0.1.0"
