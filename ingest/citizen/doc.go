// Package citizen checks what citizens report from the scene (phản ánh hiện trường) through a
// citizen app: the report's fields, and its photos. A photo is accepted only if it is a JPEG or
// PNG whose size and declared pixels are within bounds (checked before decoding, so a
// decompression bomb costs nothing) and that decodes; its EXIF position and time are read to
// check the report, then dropped with every other piece of metadata: what is kept is the
// picture re-encoded from its pixels, turned upright, with a thumbnail, named by its SHA-256.
package citizen
