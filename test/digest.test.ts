import t from 'tap'
import { digestKey } from '../src/digest.js'

t.test('digestKey hashes the UTF-8 bytes', async (t) => {
  t.equal(digestKey('abc'), 'sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
})
