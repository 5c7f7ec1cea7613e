// Strict IP address and CIDR parsing, and address allowlists.
export { parseIpAddress, formatIpAddress, type IpAddress } from './ip.js'
export { parseCidr, type IpRange, type CidrResult } from './cidr.js'
export { AddressSet } from './address-set.js'
