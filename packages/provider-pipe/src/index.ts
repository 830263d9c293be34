/** A CEP transport provider over Unix domain sockets / named pipes, with peer authentication. */
export {};
