"""Federation: each region's node confirms the other's credentials, signed by the region that holds them."""
