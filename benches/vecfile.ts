/** Writes fvecs/ivecs files, so child processes can load the exact same data. */
import { writeFileSync } from 'node:fs'

export function writeVecs(path: string, dim: number, data: Float32Array | Int32Array): void {
  const n = data.length / dim
  const buf = Buffer.alloc(n * 4 * (dim + 1))
  for (let i = 0; i < n; i++) {
    const off = i * 4 * (dim + 1)
    buf.writeInt32LE(dim, off)
    for (let j = 0; j < dim; j++) {
      if (data instanceof Int32Array) buf.writeInt32LE(data[i * dim + j], off + 4 * (j + 1))
      else buf.writeFloatLE(data[i * dim + j], off + 4 * (j + 1))
    }
  }
  writeFileSync(path, buf)
}
